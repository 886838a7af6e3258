/* The entry points HDF5 looks for in a filter plugin on HDF5_PLUGIN_PATH or the default plugin folder. */
#include "ooc_h5zstd_internal.h"

#include <H5PLextern.h>

H5PL_type_t H5PLget_plugin_type(void)
{
    return H5PL_TYPE_FILTER;
}

const void *H5PLget_plugin_info(void)
{
    return &ooc__h5z_zstd_class;
}
