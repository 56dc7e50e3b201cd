/* tests/play.c: calling a stage from a C program of one's own.
 *
 * JOURNAL.md ("Calling a stage from C") shows how to build and run it and
 * what it prints; tests/newcomer builds and runs it the journal's way and
 * checks that it prints what the journal says. It uses stage 03, whose hfree
 * lowers the break when the top of the heap is free, but only if the break
 * still ends where our last block ends.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hmalloc.h"

static const char *moved(const char *before, const char *after) {
    return after > before ? "up" : after < before ? "down" : "not at all";
}

static long distance(const char *a, const char *b) { return a > b ? (long)(a - b) : (long)(b - a); }

int main(void) {
    /* A C program calls glibc's malloc for the first time in its first
     * printf, which takes stdout's buffer. Until then the break is ours alone. */
    char *start = sbrk(0);
    char *p = hmalloc(1000);
    strcpy(p, "hello");
    char *grown = sbrk(0);
    hfree(p);
    char *trimmed = sbrk(0);
    char *q = hmalloc(1000);
    char *ours = sbrk(0);

    printf("hmalloc(1000) moved the break %s by %ld bytes; hfree moved it %s by %ld\n",
           moved(start, grown), distance(start, grown), moved(grown, trimmed), distance(grown, trimmed));
    char *libc = sbrk(0);
    printf("the first printf moved the break %s: glibc's malloc took stdout's buffer above our block\n",
           moved(ours, libc));
    hfree(q);
    printf("hfree of our top block moved it %s: the break no longer ends at our heap\n",
           moved(libc, sbrk(0)));
    return 0;
}
