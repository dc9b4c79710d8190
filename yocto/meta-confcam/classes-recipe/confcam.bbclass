# For the confcam recipes: the build's knobs and their defaults, also when
# the distro is not confcam.
require conf/distro/include/confcam.inc
