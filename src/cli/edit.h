/*
 * edit.h: the interactive line of `sockit exec` (its REPL) and, later,
 * `sockit chat`: a prompt with line editing and history (libedit), fed
 * from the caller's own poll() loop, so the caller can watch its socket
 * and signals while the user types, and print above the line being
 * typed without breaking it.
 *
 * On a terminal, libedit edits the line (its readline interface, in
 * callback mode). Otherwise lines are read plainly from stdin, so the
 * same commands can be scripted: no prompt, no history, no escapes.
 *
 * One per process: libedit's readline interface keeps global state, and
 * so does this module.
 */
#ifndef SK_EDIT_H
#define SK_EDIT_H

#include <stddef.h>

/*
 * Start: prompt is shown before each line on a terminal (copied).
 * histname names the history file, kept under $XDG_STATE_HOME/sockit/ (or
 * ~/.local/state/sockit/), or is NULL for none. Returns 0, or -1 when
 * stdin is a terminal that libedit cannot drive.
 */
int sk_edit_open(const char *prompt, const char *histname);

/* Is the line being edited on a terminal (libedit in use)? */
int sk_edit_tty(void);

/*
 * Show the prompt and take keys again (after sk_edit_open(), and after
 * sk_edit_suspend()). The terminal is in libedit's mode until the next
 * sk_edit_suspend().
 */
void sk_edit_resume(void);

/*
 * Stop editing while something else owns the terminal (a command runs):
 * the terminal gets its own modes back. Lines already typed ahead stay
 * in the terminal's queue for the next sk_edit_resume().
 */
void sk_edit_suspend(void);

/*
 * Take what stdin has (call when poll() says it is readable, and again
 * while sk_edit_pending() says so). Returns 1 with *line set (malloc'd,
 * the caller frees it; no LF, no CR) when a line is complete; 0 when it
 * is not yet; -1 at the end of input (Ctrl-D on an empty line, or EOF).
 * After a line, editing is suspended: sk_edit_resume() shows the next
 * prompt, once the caller has done what the line asked.
 */
int sk_edit_read(char **line);

/* Does a complete line already wait in our buffer (not on the fd, so
 * poll() would not say so)? Only scripted input buffers lines. */
int sk_edit_pending(void);

/* Ctrl-C at the prompt: drop the line being typed and show a fresh
 * prompt, as shells do. */
void sk_edit_interrupt(void);

/*
 * Write s[0..n) to fd (1 or 2) above the line being edited: the prompt
 * and the line are wiped, s is written, and they are drawn again below
 * it with the cursor where it was. s should end in a newline. On no
 * terminal it is a plain write.
 */
void sk_edit_print(int fd, const char *s, size_t n);

/* Save the history and give the terminal back. */
void sk_edit_close(void);

#endif
