# Root of the CSJ release (holding MORPH/SDB/{core,noncore}/ and WAV/{core,noncore}/).
# Override with the environment variable CSJ.
CSJ="${CSJ:-/path/to/CSJ}"
