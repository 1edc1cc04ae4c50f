/* Linked into the hostenv_warned test plugin: one symbol exported beside the entry, so that
 * loading it warns (loader.c) and reads MFLOW_PLUGIN_WARNED. */
int mflow_hostenv_extra_export(void);
int mflow_hostenv_extra_export(void)
{
    return 1;
}
