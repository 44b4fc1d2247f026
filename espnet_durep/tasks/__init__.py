"""ESPnet2 task for espnet_durep models.

ESPnet's ASR task module is imported here first, offline and with its import notice kept off
stdout (see :mod:`espnet_durep._offline`), so that nothing the task's modules import prints.
"""
from espnet_durep._offline import import_offline

import_offline("espnet2.tasks.asr")
