/* bench/traces/src/tree.c: the file gcc compiles for bench/traces/cc1.hmt.
 * Any ordinary C will do: what is recorded is the compiler's allocations. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
    int key;
    char name[16];
    struct node *left, *right;
};

static struct node *insert(struct node *t, int key) {
    if (t == NULL) {
        t = calloc(1, sizeof *t);
        if (t == NULL) abort();
        t->key = key;
        snprintf(t->name, sizeof t->name, "n%d", key);
        return t;
    }
    if (key < t->key)
        t->left = insert(t->left, key);
    else if (key > t->key)
        t->right = insert(t->right, key);
    return t;
}

static int depth(const struct node *t) {
    if (t == NULL) return 0;
    int l = depth(t->left), r = depth(t->right);
    return 1 + (l > r ? l : r);
}

static size_t count(const struct node *t) { return t ? 1 + count(t->left) + count(t->right) : 0; }

static void release(struct node *t) {
    if (t == NULL) return;
    release(t->left);
    release(t->right);
    free(t);
}

struct buffer {
    char *data;
    size_t len, cap;
};

static void append(struct buffer *b, const char *s) {
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (p == NULL) abort();
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
}

static void walk(const struct node *t, struct buffer *b) {
    if (t == NULL) return;
    walk(t->left, b);
    append(b, t->name);
    append(b, " ");
    walk(t->right, b);
}

int main(int argc, char **argv) {
    struct node *root = NULL;
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    for (int i = 0; i < n; ++i) root = insert(root, (i * 7919) % 1009);
    struct buffer b = {0};
    walk(root, &b);
    printf("%d %zu %zu\n", depth(root), count(root), b.len);
    free(b.data);
    release(root);
    return 0;
}
