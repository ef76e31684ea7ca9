"""Training of the base models: Keras MLP, TFLite export, model card.

TensorFlow is imported only inside these modules, because devices never train.
"""

import os

# TensorFlow's C++ INFO lines drown the Keras progress bar; a value set by the
# user still wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
