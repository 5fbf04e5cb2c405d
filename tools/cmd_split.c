/* dycl split — placeholder until the command lands; reports that it is not available. */
#include <stdio.h>

#include "tools/commands.h"

int dycl_cmd_split(int argc, char** argv) {
  (void)argc, (void)argv;
  fprintf(stderr, "dycl: error: 'split' is not implemented yet\n");
  return 1;
}
