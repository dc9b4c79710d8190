# Python helpers of meta-confcam, loaded by `addpylib` in conf/layer.conf.
BBIMPORTS = ["board", "sysusers"]
