# Corpus location: the two AN4 samples shipped with this recipe (override: MINI_AN4=/path).
MINI_AN4="${MINI_AN4:-$(pwd)/corpus}"
