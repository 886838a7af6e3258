/* Atomic outputs: the destination appears whole at commit, is never clobbered without force, and nothing
 * temporary is left behind on abort or failure. */
#define _GNU_SOURCE /* mkdtemp */
#include "ooc_output.h"
#include "ooc_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static int count_entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void write_file(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
}

static int has_content(const char *p, const char *text)
{
    char buf[128] = {0};
    FILE *f = fopen(p, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    return n == strlen(text) && memcmp(buf, text, n) == 0;
}

static void setup(void)
{
    strcpy(dir, "/tmp/ooc_output_XXXXXX");
    ASSERT(mkdtemp(dir) != NULL);
}

static void teardown(void)
{
    ASSERT_INT_EQ(count_entries(), 0);
    rmdir(dir);
}

static void test_commit_and_abort(void)
{
    setup();
    char dest[128];
    snprintf(dest, sizeof dest, "%s/out.h5", dir);
    ooc_output *o;
    ooc_error err;
    ASSERT_OK(ooc_output_open(dest, 0, &o, &err));
    ASSERT(access(dest, F_OK) != 0);                 /* nothing at the destination yet */
    ASSERT(strncmp(ooc_output_path(o), dir, strlen(dir)) == 0); /* the temporary sits beside it */
    write_file(ooc_output_path(o), "new");
    ASSERT_INT_EQ(count_entries(), 1);
    ASSERT_OK(ooc_output_commit(o, &err));
    ASSERT(has_content(dest, "new"));
    ASSERT_INT_EQ(count_entries(), 1);
    struct stat st;
    mode_t mask = umask(0);
    umask(mask);
    ASSERT(stat(dest, &st) == 0);
    ASSERT_INT_EQ(st.st_mode & 0777, 0666 & ~mask);

    ASSERT_OK(ooc_output_open(dest, 1, &o, &err));
    write_file(ooc_output_path(o), "partial");
    ooc_output_abort(o);
    ASSERT(has_content(dest, "new"));
    ASSERT_INT_EQ(count_entries(), 1);
    unlink(dest);
    teardown();
}

static void test_no_clobber_without_force(void)
{
    setup();
    char dest[128];
    snprintf(dest, sizeof dest, "%s/out.h5", dir);
    write_file(dest, "old");
    ooc_output *o = NULL;
    ooc_error err;
    ASSERT_INT_EQ(ooc_output_open(dest, 0, &o, &err), OOC_EEXIST);
    ASSERT_STR_CONTAINS(err.msg, "--force");
    ASSERT(has_content(dest, "old"));

    /* force: the old file stays until the commit */
    ASSERT_OK(ooc_output_open(dest, 1, &o, &err));
    write_file(ooc_output_path(o), "new");
    ASSERT(has_content(dest, "old"));
    ASSERT_OK(ooc_output_commit(o, &err));
    ASSERT(has_content(dest, "new"));
    unlink(dest);

    /* a file that appears while we write is not clobbered, and our temporary goes away */
    ASSERT_OK(ooc_output_open(dest, 0, &o, &err));
    write_file(ooc_output_path(o), "mine");
    write_file(dest, "theirs");
    ASSERT_INT_EQ(ooc_output_commit(o, &err), OOC_EEXIST);
    ASSERT(has_content(dest, "theirs"));
    ASSERT_INT_EQ(count_entries(), 1);
    unlink(dest);
    teardown();
}

static void test_bad_destinations(void)
{
    setup();
    char dest[128];
    ooc_output *o;
    ooc_error err;
    snprintf(dest, sizeof dest, "%s/missing/out.h5", dir);
    ASSERT_INT_EQ(ooc_output_open(dest, 0, &o, &err), OOC_EIO);
    ASSERT_STR_CONTAINS(err.msg, "No such file or directory");
    char named[160]; /* the directory named: in "m.h5:/x" it is "m.h5:", not what the user meant */
    snprintf(named, sizeof named, "in directory '%s/missing'", dir);
    ASSERT_STR_CONTAINS(err.msg, named);
    ASSERT_INT_EQ(ooc_output_open(dir, 1, &o, &err), OOC_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "is a directory");
    /* a name over NAME_MAX (255): refused when opening, not at the rename after all the work */
    char longer[512];
    snprintf(longer, sizeof longer, "%s/%0256d.h5", dir, 0);
    ASSERT_INT_EQ(ooc_output_open(longer, 0, &o, &err), OOC_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "File name too long");
    teardown();
}

static void test_remove_all_temporaries(void)
{
    setup();
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/a.h5", dir);
    snprintf(b, sizeof b, "%s/b.h5", dir);
    ooc_output *oa, *ob;
    ooc_error err;
    ASSERT_OK(ooc_output_open(a, 0, &oa, &err));
    ASSERT_OK(ooc_output_open(b, 0, &ob, &err));
    ASSERT_INT_EQ(count_entries(), 2);
    ooc_output_remove_all_temporaries(); /* what a signal handler does */
    ASSERT_INT_EQ(count_entries(), 0);
    ooc_output_abort(oa);
    ooc_output_abort(ob);
    teardown();
}

/* A run's outputs go in together: when the last rename fails (here a file appeared at its destination), the
 * ones already in place are taken back: a new name removed, a replaced file given its old contents back. A
 * fit used to leave its new labels beside a model it failed to write. */
static void test_commit_all_or_none(void)
{
    setup();
    char a[128], b[128], c[128];
    snprintf(a, sizeof a, "%s/a.h5", dir);
    snprintf(b, sizeof b, "%s/b.h5", dir);
    snprintf(c, sizeof c, "%s/c.h5", dir);
    write_file(b, "old b");
    ooc_output *o[3];
    ooc_error err;
    ASSERT_OK(ooc_output_open(a, 0, &o[0], &err));
    ASSERT_OK(ooc_output_open(b, 1, &o[1], &err));
    ASSERT_OK(ooc_output_open(c, 0, &o[2], &err));
    for (int i = 0; i < 3; i++)
        write_file(ooc_output_path(o[i]), "new");
    write_file(c, "theirs");
    ASSERT_INT_EQ(ooc_output_commit_all(o, 3, &err), OOC_EEXIST);
    ASSERT_STR_CONTAINS(err.msg, "c.h5");
    ASSERT(access(a, F_OK) != 0);
    ASSERT(has_content(b, "old b"));
    ASSERT(has_content(c, "theirs"));
    ASSERT_INT_EQ(count_entries(), 2); /* b and c: no temporary left */

    /* all three go in, NULL entries skipped, and nothing of the old b stays behind */
    unlink(c);
    ASSERT_OK(ooc_output_open(a, 0, &o[0], &err));
    ASSERT_OK(ooc_output_open(b, 1, &o[2], &err));
    o[1] = NULL;
    write_file(ooc_output_path(o[0]), "new a");
    write_file(ooc_output_path(o[2]), "new b");
    ASSERT_OK(ooc_output_commit_all(o, 3, &err));
    ASSERT(has_content(a, "new a"));
    ASSERT(has_content(b, "new b"));
    ASSERT_INT_EQ(count_entries(), 2);
    unlink(a);
    unlink(b);
    teardown();
}

/* A symbolic link that leads nowhere is a name the rename would take: an existing output, refused without
 * force before any work (it was taken for absent, and the rename refused it after the work); with force the
 * link is replaced, as mv does, like a link to a file. */
static void test_dangling_link(void)
{
    setup();
    char dest[128], target[128];
    snprintf(dest, sizeof dest, "%s/out.h5", dir);
    snprintf(target, sizeof target, "%s/nowhere.h5", dir);
    ASSERT_OK(symlink(target, dest));
    ooc_output *o = NULL;
    ooc_error err;
    ASSERT_INT_EQ(ooc_output_open(dest, 0, &o, &err), OOC_EEXIST);
    ASSERT_OK(ooc_output_open(dest, 1, &o, &err));
    write_file(ooc_output_path(o), "new");
    ASSERT_OK(ooc_output_commit(o, &err));
    struct stat st;
    ASSERT(lstat(dest, &st) == 0 && S_ISREG(st.st_mode));
    ASSERT(has_content(dest, "new"));
    ASSERT(access(target, F_OK) != 0);
    unlink(dest);
    teardown();
}

/* Opening an output leaves the process's umask alone, even for a moment: another thread of a program that
 * uses the library creates its files meanwhile (it used to read the umask with umask(0), and a file made in
 * between came out world-writable). */
static atomic_int opening_done;

static void *open_outputs(void *arg)
{
    const char *dest = arg;
    for (int i = 0; i < 3000; i++) {
        ooc_output *o;
        ooc_error err;
        if (ooc_output_open(dest, 1, &o, &err) == 0)
            ooc_output_abort(o);
    }
    atomic_store(&opening_done, 1);
    return NULL;
}

static void test_umask_untouched(void)
{
    setup();
    char dest[128], mine[128];
    snprintf(dest, sizeof dest, "%s/out.h5", dir);
    snprintf(mine, sizeof mine, "%s/mine", dir);
    mode_t saved = umask(022);
    pthread_t t;
    ASSERT_OK(pthread_create(&t, NULL, open_outputs, dest));
    int wrong = 0, made = 0;
    while (!atomic_load(&opening_done)) {
        int fd = open(mine, O_WRONLY | O_CREAT | O_EXCL, 0666);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0) {
            made++;
            wrong += (st.st_mode & 0777) != 0644;
        }
        if (fd >= 0)
            close(fd);
        unlink(mine);
    }
    pthread_join(t, NULL);
    umask(saved);
    ASSERT(made > 0);
    ASSERT_INT_EQ(wrong, 0);
    teardown();
}

/* The destination's directory renamed while the run writes (a user tidying up): the run fails, and its
 * temporaries go with it, aborted or removed as by a signal handler, from where the directory now is. They
 * used to be removed by their old path, which led nowhere, and stayed. */
static void test_directory_moved(void)
{
    setup();
    char sub[128], moved[128], a[160], b[160];
    snprintf(sub, sizeof sub, "%s/out", dir);
    snprintf(moved, sizeof moved, "%s/moved", dir);
    snprintf(a, sizeof a, "%s/a.h5", sub);
    snprintf(b, sizeof b, "%s/b.h5", sub);
    ASSERT_OK(mkdir(sub, 0755));
    ooc_output *oa, *ob;
    ooc_error err;
    ASSERT_OK(ooc_output_open(a, 0, &oa, &err));
    ASSERT_OK(ooc_output_open(b, 0, &ob, &err));
    write_file(ooc_output_path(oa), "new");
    ASSERT_OK(rename(sub, moved));
    ASSERT(ooc_output_commit(oa, &err) != 0);
    ooc_output_remove_all_temporaries();
    ooc_output_abort(ob);
    ASSERT_OK(rmdir(moved)); /* empty: nothing left behind */
    teardown();
}

OOC_TEST_MAIN(test_commit_and_abort, test_no_clobber_without_force, test_bad_destinations,
              test_remove_all_temporaries, test_commit_all_or_none, test_dangling_link,
              test_umask_untouched, test_directory_moved)
