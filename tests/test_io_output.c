/* Atomic outputs: the destination appears whole at commit, is never clobbered without force, and nothing
 * temporary is left behind on abort or failure. */
#define _GNU_SOURCE /* mkdtemp */
#include "ooc_output.h"
#include "ooc_test.h"

#include <dirent.h>
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

OOC_TEST_MAIN(test_commit_and_abort, test_no_clobber_without_force, test_bad_destinations,
              test_remove_all_temporaries)
