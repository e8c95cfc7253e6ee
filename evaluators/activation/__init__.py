"""The activation-function task: a hypothesis defines ``activation(x) -> Tensor``."""
