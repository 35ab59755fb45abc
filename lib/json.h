/* JSON output and input through jansson.  Every `--json` in Peregrine builds a
 * json_t and prints it with json_print(). */
#ifndef PEREGRINE_LIB_JSON_H
#define PEREGRINE_LIB_JSON_H

#include <jansson.h>
#include <stdio.h>

/* Print indented JSON and a newline to f, then drop the reference. */
void json_print(FILE *f, json_t *j);

/* Shorthands that keep object building on one line each. */
#define JSET(obj, key, val) json_object_set_new((obj), (key), (val))
#define JINT(v) json_integer((json_int_t)(v))
#define JREAL(v) json_real((double)(v))
#define JSTR(v) json_string(v)
#define JBOOL(v) json_boolean(v)

#endif
