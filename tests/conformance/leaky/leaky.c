/* Linked into the template's tmpl store for the export warning test: two symbols a careless
 * plugin exports beside its entry (built without -fvisibility=hidden). */
int leaky_helper(int x);
int leaky_table[4] = {1, 2, 3, 4};

int leaky_helper(int x)
{
    return x + leaky_table[0];
}
