"""`python -m vade_tf.cli`: the `vade-tf` command."""

import sys

from vade_tf.cli import main

sys.exit(main())
