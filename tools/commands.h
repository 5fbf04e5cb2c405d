/* Sub-commands of the dycl tool that live in their own files (tools/cmd_*.c). Each takes the
 * arguments after the command name and returns the process exit code (0 ok, 1 model/input error
 * with one `dycl: error:` line on stderr, 2 usage error). */
#ifndef DYCL_TOOLS_COMMANDS_H
#define DYCL_TOOLS_COMMANDS_H

#include "dycl/dycl.h"

/* Shared by the commands: print `dycl: error: MESSAGE` (freeing s) and return 1; print
 * `dycl: usage error: ...` followed by the command's help and return 2. */
int dycl_cli_fail(dycl_status_t s);
int dycl_cli_usage(const char* help, const char* fmt, const char* arg);

int dycl_cmd_compile(int argc, char** argv);
int dycl_cmd_split(int argc, char** argv);

#endif
