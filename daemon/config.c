/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ndkd.conf: DPDK's rte_cfgfile reads it; every [section] key is a setting
 * of the table in opts.c, and every error names its line.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cfgfile.h>

#include "settings.h"

/*
 * rte_cfgfile parses the file but keeps no line numbers, skips lines it
 * cannot read (no '='), and keeps duplicate keys. This pass only locates:
 * the line of [section] key, and the first line rte_cfgfile would skip or
 * refuse, so every message can name its line.
 */
struct conf_line {
	char section[CFG_NAME_LEN];
	char key[CFG_NAME_LEN];
	unsigned int line;
};

static void
trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	while (isspace((unsigned char)s[i]))
		i++;
	memmove(s, s + i, n - i + 1);
}

static int
conf_scan(const char *path, struct conf_line *lines, unsigned int max, unsigned int *n, char *err,
	  size_t errlen)
{
	char buf[CFG_NAME_LEN + CFG_VALUE_LEN + 4], section[CFG_NAME_LEN] = "";
	unsigned int lineno = 0;
	FILE *f = fopen(path, "r");
	int rc = 0;

	*n = 0;
	if (f == NULL)
		return bad(err, errlen, "%s: %s", path, strerror(errno));
	while (rc == 0 && fgets(buf, sizeof(buf), f) != NULL) {
		char *p, *eq;

		lineno++;
		if (strchr(buf, '\n') == NULL && !feof(f)) {
			rc = bad(err, errlen, "%s:%u: line too long (at most %zu bytes)", path,
				 lineno, sizeof(buf) - 2);
			break;
		}
		p = strchr(buf, '#');
		if (p != NULL)
			*p = '\0';
		trim(buf);
		if (buf[0] == '\0')
			continue;
		if (buf[0] == '[') {
			p = strchr(buf, ']');
			if (p == NULL || p[1] != '\0' || p == buf + 1 ||
			    (size_t)(p - buf - 1) >= sizeof(section)) {
				rc = bad(err, errlen, "%s:%u: '%s' is not a [section] line", path,
					 lineno, buf);
				break;
			}
			memcpy(section, buf + 1, (size_t)(p - buf - 1));
			section[p - buf - 1] = '\0';
			trim(section);
			/* the section's own line, under the key "" */
			buf[0] = '\0';
			goto record;
		}
		eq = strchr(buf, '=');
		if (eq == NULL) {
			rc = bad(err, errlen, "%s:%u: '%s' is not 'key = value'", path, lineno,
				 buf);
			break;
		}
		*eq = '\0';
		trim(buf);
		trim(eq + 1);
		if (section[0] == '\0') {
			rc = bad(err, errlen, "%s:%u: key '%s' before any [section]", path, lineno,
				 buf);
			break;
		}
		if (strlen(buf) >= CFG_NAME_LEN || strlen(eq + 1) >= CFG_VALUE_LEN) {
			rc = bad(err, errlen, "%s:%u: key or value too long (%d, %d bytes at most)",
				 path, lineno, CFG_NAME_LEN - 1, CFG_VALUE_LEN - 1);
			break;
		}
		if (buf[0] == '\0' || eq[1] == '\0') {
			rc = bad(err, errlen, "%s:%u: '%s' has no %s", path, lineno, buf,
				 buf[0] == '\0' ? "key" : "value");
			break;
		}
	record:
		if (*n == max) {
			rc = bad(err, errlen, "%s:%u: more than %u keys", path, lineno, max);
			break;
		}
		snprintf(lines[*n].section, sizeof(lines[*n].section), "%s", section);
		snprintf(lines[*n].key, sizeof(lines[*n].key), "%s", buf);
		lines[(*n)++].line = lineno;
	}
	fclose(f);
	return rc;
}

static unsigned int
conf_line_of(const struct conf_line *lines, unsigned int n, const char *section, const char *key,
	     unsigned int nth)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (strcmp(lines[i].section, section) == 0 && strcmp(lines[i].key, key) == 0 &&
		    nth-- == 0)
			return lines[i].line;
	}
	return 0;
}

static const struct setting *
setting_by_key(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < n_settings; i++) {
		if (strcmp(settings[i].section, section) == 0 && strcmp(settings[i].key, key) == 0)
			return &settings[i];
	}
	return NULL;
}

static bool
section_known(const char *section)
{
	size_t i;

	for (i = 0; i < n_settings; i++) {
		if (strcmp(settings[i].section, section) == 0)
			return true;
	}
	return false;
}

#define CONF_MAX_KEYS 256

int
opts_load_config(struct ndkd_opts *o, const char *path, char *err, size_t errlen)
{
	const struct rte_cfgfile_parameters params = { .comment_character = '#' };
	struct rte_cfgfile_entry entries[CONF_MAX_KEYS];
	struct conf_line *lines;
	struct rte_cfgfile *cfg = NULL;
	char section[CFG_NAME_LEN], msg[256];
	unsigned int n_lines;
	int s, e, n_sec, n_ent, rc = -1;

	lines = calloc(CONF_MAX_KEYS, sizeof(*lines));
	if (lines == NULL)
		return bad(err, errlen, "out of memory");
	if (conf_scan(path, lines, CONF_MAX_KEYS, &n_lines, err, errlen) != 0)
		goto out;
	cfg = rte_cfgfile_load_with_params(path, 0, &params);
	if (cfg == NULL) {
		bad(err, errlen, "%s: not a valid INI file", path);
		goto out;
	}
	n_sec = rte_cfgfile_num_sections(cfg, NULL, 0);
	for (s = 0; s < n_sec; s++) {
		int k;

		n_ent = rte_cfgfile_section_entries_by_index(cfg, s, section, entries,
							     CONF_MAX_KEYS);
		if (!section_known(section)) {
			bad(err, errlen, "%s:%u: unknown section [%s]", path,
			    conf_line_of(lines, n_lines, section, "", 0), section);
			goto out;
		}
		/* a section given twice is a mistake, not a merge */
		for (k = 0; k < s; k++) {
			char other[CFG_NAME_LEN];
			struct rte_cfgfile_entry none[1];

			rte_cfgfile_section_entries_by_index(cfg, k, other, none, 0);
			if (strcmp(other, section) == 0) {
				bad(err, errlen, "%s:%u: section [%s] appears twice", path,
				    conf_line_of(lines, n_lines, section, "", 1), section);
				goto out;
			}
		}
		for (e = 0; e < n_ent; e++) {
			const struct setting *st = setting_by_key(section, entries[e].name);
			unsigned int line, nth = 0;
			int k2;

			for (k2 = 0; k2 < e; k2++)
				nth += strcmp(entries[k2].name, entries[e].name) == 0;
			line = conf_line_of(lines, n_lines, section, entries[e].name, nth);
			if (st == NULL) {
				bad(err, errlen, "%s:%u: unknown key '%s' in [%s]", path, line,
				    entries[e].name, section);
				goto out;
			}
			/* ports come as port, addr, xdp, port ... in order; other keys once */
			if (nth != 0 && st->kind != K_PORT && st->kind != K_ADDR &&
			    st->kind != K_XDP) {
				bad(err, errlen, "%s:%u: key '%s' given twice in [%s]", path, line,
				    entries[e].name, section);
				goto out;
			}
			if (setting_apply(o, st, entries[e].value, true, msg, sizeof(msg)) != 0) {
				bad(err, errlen, "%s:%u: [%s] %s: %s", path, line, section,
				    entries[e].name, msg);
				goto out;
			}
		}
	}
	rc = 0;
out:
	if (cfg != NULL)
		rte_cfgfile_close(cfg);
	free(lines);
	return rc;
}
