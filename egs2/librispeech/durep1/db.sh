# Folder holding the unpacked LibriSpeech sets (train-clean-100/, dev-clean/, ...),
# e.g. /data/LibriSpeech. Override with the environment variable LIBRISPEECH.
LIBRISPEECH="${LIBRISPEECH:-/path/to/LibriSpeech}"
