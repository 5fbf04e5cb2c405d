/* Sub-commands of the dycl tool that live in their own files (tools/cmd_*.c). Each takes the
 * arguments after the command name and returns the process exit code (0 ok, 1 model/input error
 * with one `dycl: error:` line on stderr, 2 usage error). */
#ifndef DYCL_TOOLS_COMMANDS_H
#define DYCL_TOOLS_COMMANDS_H

int dycl_cmd_compile(int argc, char** argv);
int dycl_cmd_split(int argc, char** argv);

#endif
