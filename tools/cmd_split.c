/* dycl split MODEL -o DIR: each sub-network as a static ONNX model plus the host tree as JSON. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dycl/dycl.h"
#include "tools/commands.h"

static const char* SPLIT_HELP =
    "usage: dycl split MODEL -o DIR [options]\n"
    "\n"
    "Loads and partitions MODEL, then writes each sub-network (a straight-line segment with no\n"
    "If/Loop/Scan) as a static ONNX model DIR/subnet_<k>.onnx, and DIR/program.json: the host tree\n"
    "(sub-network calls, if, loop, scan, sequence map), the values that flow between the\n"
    "sub-networks and the host, the constants the host binds (DIR/constants/const_<n>.pb) and the\n"
    "file of each sub-network. Another compiler or runtime (ONNX Runtime, TVM) can then run the\n"
    "sub-networks while a host of its own runs the control flow.\n"
    "\n"
    "Each sub-network file has the sub-network's inputs as graph inputs (element type always; dims\n"
    "fixed where dycl's inference knows them, dim_param names for symbolic dims, unknown otherwise),\n"
    "its weights as initializers, its outputs as graph outputs, and the model's opset imports.\n"
    "DIR is created when missing; files of an earlier split are overwritten, not removed.\n"
    "\n"
    "options:\n"
    "  -o DIR                 the output folder (required)\n"
    "  --max-tensor-bytes N   fail when one constant would need more than N bytes\n"
    "  -q, --quiet            print nothing on success\n"
    "  -h, --help             show this help\n";

int dycl_cmd_split(int argc, char** argv) {
  const char* model = NULL;
  const char* dir = NULL;
  bool quiet = false;
  dycl_options_t opts;
  dycl_options_init(&opts);
  for (int i = 0; i < argc; i++) {
    const char* s = argv[i];
    if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
      fputs(SPLIT_HELP, stdout);
      return 0;
    }
    if (strcmp(s, "-o") == 0) {
      if (i + 1 >= argc) return dycl_cli_usage(SPLIT_HELP, "%s needs a folder", s);
      dir = argv[++i];
    } else if (strcmp(s, "--max-tensor-bytes") == 0) {
      char* end;
      errno = 0;
      long long v = i + 1 < argc ? strtoll(argv[i + 1], &end, 10) : -1;
      if (i + 1 >= argc || errno || end == argv[i + 1] || *end || v < 0) return dycl_cli_usage(SPLIT_HELP, "%s needs a non-negative integer", s);
      opts.max_tensor_bytes = (uint64_t)v;
      i++;
    } else if (strcmp(s, "-q") == 0 || strcmp(s, "--quiet") == 0) {
      quiet = true;
    } else if (s[0] == '-' && s[1]) {
      return dycl_cli_usage(SPLIT_HELP, "unknown option '%s'", s);
    } else if (!model) {
      model = s;
    } else {
      return dycl_cli_usage(SPLIT_HELP, "unexpected argument '%s'", s);
    }
  }
  if (!model) return dycl_cli_usage(SPLIT_HELP, "missing MODEL%s", "");
  if (!dir) return dycl_cli_usage(SPLIT_HELP, "missing -o DIR%s", "");
  dycl_model_t* m = NULL;
  dycl_status_t s = dycl_model_load(model, &opts, &m);
  if (!s) s = dycl_model_split(m, dir);
  dycl_model_destroy(m);
  if (s) return dycl_cli_fail(s);
  if (!quiet) printf("wrote %s/program.json and the sub-networks of %s\n", dir, model);
  return 0;
}
