"""Training of the base models: Keras MLP, TFLite export, model card.

TensorFlow is imported only inside these modules, because devices never train.
"""
