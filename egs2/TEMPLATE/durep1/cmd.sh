# Where recipe jobs run (read by scripts/launch.py). Edit for your machine or cluster.
#
# local: jobs run on this machine; at most DUREP_MAX_PARALLEL at once (0 = all of a stage's
#        jobs, i.e. --nj / --inference_nj).
# slurm: every job is submitted with "sbatch --wait"; GPU jobs (training with --ngpu N,
#        decoding with --inference_ngpu N) get --gres=gpu:N on DUREP_SLURM_GPU_PARTITION.
export DUREP_BACKEND="${DUREP_BACKEND:-local}"
export DUREP_MAX_PARALLEL="${DUREP_MAX_PARALLEL:-0}"
export DUREP_SLURM_PARTITION="${DUREP_SLURM_PARTITION:-}"          # e.g. cpu
export DUREP_SLURM_GPU_PARTITION="${DUREP_SLURM_GPU_PARTITION:-}"  # e.g. gpu
export DUREP_SLURM_OPTS="${DUREP_SLURM_OPTS:-}"                    # e.g. "--time 3-00:00:00 --mem 32G"
