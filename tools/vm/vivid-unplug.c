/* vivid-unplug: pulls the cable of a vivid camera. vivid's "Disconnect"
 * control unregisters its device nodes as a USB disconnect does: open file
 * handles get ENODEV, new opens fail. Runs inside the VM test
 * (tools/vm-test); built statically on the host.
 *
 *   vivid-unplug DEVICE */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: vivid-unplug DEVICE\n");
    return 2;
  }
  int fd = open(argv[1], O_RDWR);
  if (fd < 0) {
    fprintf(stderr, "vivid-unplug: %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  /* The control's id is private to vivid: find it by name. */
  struct v4l2_queryctrl q;
  memset(&q, 0, sizeof q);
  q.id = V4L2_CTRL_FLAG_NEXT_CTRL;
  while (ioctl(fd, VIDIOC_QUERYCTRL, &q) == 0) {
    if (strcmp((char *)q.name, "Disconnect") == 0) {
      struct v4l2_control c = {.id = q.id, .value = 1};
      if (ioctl(fd, VIDIOC_S_CTRL, &c) < 0) {
        fprintf(stderr, "vivid-unplug: %s: VIDIOC_S_CTRL: %s\n", argv[1], strerror(errno));
        return 1;
      }
      return 0;
    }
    q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
  }
  fprintf(stderr, "vivid-unplug: %s has no Disconnect control\n", argv[1]);
  return 1;
}
