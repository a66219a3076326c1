# What a user writes: inherit the released B/16 config and change a field.
_base_ = ["../../recognizer/configs/clip4str_base16.py"]

model = dict(refine_iters=2, decode="nar")
