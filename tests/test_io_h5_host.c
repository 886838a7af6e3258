/* A program that uses HDF5 itself and calls ooc keeps its HDF5 as it was: its error printing, and the
 * closing of its files at exit that HDF5 does for it. */
#define _GNU_SOURCE /* mkdtemp */
#include "ooc_h5.h"
#include "ooc_test.h"

#include <hdf5.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64];

/* A host that leaves a file open at exit, after ooc was first to start HDF5: HDF5's exit handler flushes
 * such files, and ooc's switching it off had the file come out truncated. Run first, in a child that has
 * not touched HDF5 yet (the handler belongs to whoever starts the library). */
static void test_host_file_closed_at_exit(void)
{
    strcpy(dir, "/tmp/ooc_h5_host_XXXXXX");
    ASSERT(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/host.h5", dir);
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i * 0.5;
    pid_t child = fork();
    if (child == 0) {
        ooc_h5_reader *r;
        ooc_error err;
        (void)ooc_h5_reader_open("/nonexistent/x.h5", "/X", &r, &err); /* fails; HDF5 started by ooc */
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dims[1] = {100};
        hid_t space = H5Screate_simple(1, dims, NULL);
        hid_t ds = H5Dcreate2(f, "v", H5T_NATIVE_DOUBLE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
        exit(0); /* nothing closed */
    }
    int status;
    ASSERT(child > 0 && waitpid(child, &status, 0) == child);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    double back[100] = {0};
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t ds = f < 0 ? -1 : H5Dopen2(f, "v", H5P_DEFAULT);
    ASSERT(ds >= 0 && H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, back) >= 0);
    ASSERT(memcmp(back, v, sizeof v) == 0);
    if (ds >= 0)
        H5Dclose(ds);
    if (f >= 0)
        H5Fclose(f);
    unlink(path);
    rmdir(dir);
}

static int printed;

static herr_t count_prints(hid_t stack, void *data)
{
    (void)stack;
    (*(int *)data)++;
    return 0;
}

/* ooc prints nothing of HDF5's, and leaves the caller's printing on for the caller's own calls. */
static void test_host_error_printing_kept(void)
{
    H5Eset_auto2(H5E_DEFAULT, count_prints, &printed);
    ooc_h5_reader *r;
    ooc_error err;
    ASSERT(ooc_h5_reader_open("/nonexistent/x.h5", "/X", &r, &err) != 0);
    ASSERT_INT_EQ(printed, 0);
    H5E_auto2_t fn = NULL;
    void *data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    ASSERT(fn == count_prints && data == &printed);
    ASSERT(H5Fopen("/nonexistent/x.h5", H5F_ACC_RDONLY, H5P_DEFAULT) < 0);
    ASSERT_INT_EQ(printed, 1);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

OOC_TEST_MAIN(test_host_file_closed_at_exit, test_host_error_printing_kept)
