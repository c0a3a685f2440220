/* SPDX-License-Identifier: MIT */
/* `troupe node`: run a node in the foreground (troupe-node.c). */
#ifndef TROUPE_NODE_CMD_H
#define TROUPE_NODE_CMD_H

int troupe_node_cmd(int argc, char **argv);

#endif
