/* Reads every dataset and root attribute of an HDF5 file with the system libhdf5 (the one the Swift code links),
 * to check that files written by h5py (which bundles a newer HDF5) stay readable there.
 * Prints an h5ls -r style listing: path, type class, shape, and the sum of the values read as double.
 * build: cc -O1 -I/usr/include/hdf5/serial h5check.c -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5 -o /tmp/h5check
 * usage: /tmp/h5check FILE.h5 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>

static int failures = 0;

static herr_t visit(hid_t loc, const char *name, const H5O_info_t *info, void *data) {
    (void)data;
    if (info->type == H5O_TYPE_GROUP) { printf("/%-60s Group\n", name[0] == '.' ? "" : name); return 0; }
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    hid_t sp = H5Dget_space(ds);
    hid_t ty = H5Dget_type(ds);
    int rank = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[16];
    H5Sget_simple_extent_dims(sp, dims, NULL);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    double *buf = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    herr_t rc = H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    double sum = 0;
    for (hssize_t i = 0; i < n; i++) sum += buf[i];
    const char *cls = H5Tget_class(ty) == H5T_FLOAT ? "float" : H5Tget_class(ty) == H5T_INTEGER ? "int" : "other";
    printf("/%-60s Dataset {", name);
    for (int i = 0; i < rank; i++) printf("%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    printf("} %s%zu sum=%.9g%s\n", cls, H5Tget_size(ty) * 8, sum, rc < 0 ? " READ FAILED" : "");
    if (rc < 0) failures++;
    free(buf);
    H5Tclose(ty); H5Sclose(sp); H5Dclose(ds);
    return 0;
}

static herr_t attr(hid_t loc, const char *name, const H5A_info_t *ainfo, void *data) {
    (void)ainfo; (void)data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ty = H5Aget_type(a);
    if (H5Tget_class(ty) == H5T_STRING && H5Tis_variable_str(ty)) {
        char *s = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1); H5Tset_size(mt, H5T_VARIABLE); H5Tset_cset(mt, H5Tget_cset(ty));
        if (H5Aread(a, mt, &s) < 0) failures++;
        printf("  @%s = \"%.100s\"\n", name, s ? s : "");
        H5free_memory(s); H5Tclose(mt);
    } else if (H5Tget_class(ty) == H5T_INTEGER) {
        long long v = 0;
        if (H5Aread(a, H5T_NATIVE_LLONG, &v) < 0) failures++;
        printf("  @%s = %lld\n", name, v);
    } else printf("  @%s (type class %d)\n", name, (int)H5Tget_class(ty));
    H5Tclose(ty); H5Aclose(a);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s FILE.h5\n", argv[0]); return 2; }
    unsigned maj, min, rel;
    H5get_libversion(&maj, &min, &rel);
    printf("libhdf5 %u.%u.%u reading %s\n", maj, min, rel, argv[1]);
    hid_t f = H5Fopen(argv[1], H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) { printf("OPEN FAILED\n"); return 1; }
    hsize_t idx = 0;
    H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, attr, NULL);
    H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, visit, NULL);
    H5Fclose(f);
    printf("%s\n", failures ? "FAILURES" : "all read");
    return failures ? 1 : 0;
}
