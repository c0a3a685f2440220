/* SPDX-License-Identifier: MIT */
/* Descriptors handed to a child on purpose (pipe ends), and the ones that
 * must never reach a child unless handed over.  The starter lists the
 * descriptors in the boot record (tri_boot.pass_fd, with a tag per slot
 * saying what each is); each start method gets them to the child (fork
 * keeps them, spawn moves them to known numbers, the forkserver receives
 * them with SCM_RIGHTS), and the child's boot record names the numbers
 * they have there.  Not installed. */
#ifndef TRI_FDPASS_H
#define TRI_FDPASS_H

#include <stddef.h>
#include <stdint.h>

struct tri_boot;

/* Note / forget a descriptor of this process that no child may inherit
 * unless it is handed over: a fork child closes every noted descriptor
 * but the ones in its boot record.  (Spawn and forkserver children never
 * get them: they are O_CLOEXEC.) */
void tri_fdpass_own(int fd);
void tri_fdpass_disown(int fd);

/* In a new child, first thing: close the noted descriptors not handed to
 * it (a fork child's copy of the parent's), and keep the handed ones
 * (made O_CLOEXEC) for tri_fdpass_take(). */
void tri_fdpass_adopt(const struct tri_boot *b);

/* Take the descriptor in slot whose tag is tag: 0 with *ret_fd (now the
 * caller's), or TR_ENOTFOUND (no such slot, another tag, or taken). */
int tri_fdpass_take(int slot, uint32_t tag, int *ret_fd);

/* Add a dup of fd (O_CLOEXEC, noted) to the list fds/tags/n of at most
 * max: the slot, or -ENOSPC, -EMFILE. */
int tri_fdpass_add(
    int *fds, uint32_t *tags, size_t *n, size_t max, int fd, uint32_t tag);
/* Close and forget the n descriptors of such a list; *n becomes 0. */
void tri_fdpass_clear(int *fds, size_t *n);

#endif /* TRI_FDPASS_H */
