"""Training machinery the model is trained with (it does not import the model).

- `recipes`: every training setting as data (`Recipe`, the presets);
- `optimizers`: the Adam pair and the step-decay schedule;
- `callbacks`: Keras callbacks (schedules, checkpoints, history, monitors);
- `batches`: the one batch order and its seed rule;
- `train_loop`: the epochs of VaDE, shared by training, resuming and start
  selection;
- `pretraining`: the autoencoder's pretraining recipes;
- `weights`: autoencoder weight files (this project's and the original's);
- `latent_mixture`: the mixture prior's start, fitted on the latent means;
- `start_selection`: several mixture starts, the best kept by the ELBO;
- `k_selection`: choosing the number of clusters without labels;
- `compilation`: whether a step compiles with XLA;
- `distribute`: `tf.distribute` strategies and the chief's duties.

Like `vade_tf.data`, this package imports nothing when imported.
"""
