#!/usr/bin/env python3
"""Train espnet_durep models with ESPnet's trainer.

Same options as ``python -m espnet2.bin.asr_train`` (ESPnet's ASR task) plus the teacher:
``--teacher_asr_train_config`` and ``--teacher_asr_model_file``.

    python -m espnet_durep.bin.durep_train --print_config --model dual_mode \
        --encoder dual_mode_conformer > conf/train_student.yaml
"""
from espnet_durep.tasks.durep import DurepTask


def get_parser():
    return DurepTask.get_parser()


def main(cmd=None):
    DurepTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
