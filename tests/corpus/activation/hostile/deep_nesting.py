# expect: line 6: code is nested deeper than 64 levels
# ruff: noqa
# fmt: off
# The formatter would spread this over hundreds of lines; it is one expression 70 deep.
def activation(x):
    return -(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(-(x))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))
