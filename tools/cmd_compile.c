/* dycl compile — placeholder until the command lands; reports that it is not available. */
#include <stdio.h>

#include "tools/commands.h"

int dycl_cmd_compile(int argc, char** argv) {
  (void)argc, (void)argv;
  fprintf(stderr, "dycl: error: 'compile' is not implemented yet\n");
  return 1;
}
