"""The regularizer task: a penalty added to the training loss of a network that overfits."""
