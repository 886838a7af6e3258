/* ooc_h5zstd_internal.h: the Zstandard filter class for HDF5 (filter id 32015, cd_values[0] = level).
 * Compiled into the library (registered in-process, so our tools need no plugin) and into the plugin
 * module that h5py, h5dump and any HDF5 program load from the plugin path. */
#ifndef OOC_H5ZSTD_INTERNAL_H
#define OOC_H5ZSTD_INTERNAL_H

#include <hdf5.h>

extern const H5Z_class2_t ooc__h5z_zstd_class;

#endif
