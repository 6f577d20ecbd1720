/*
 * scope.c - the one rule for message scope names.
 */
#include <bt/scope.h>

int
btcore_scope_valid(const char *scope, size_t len)
{
	size_t i;
	char c;

	if (scope == NULL || len == 0 || len > BTCORE_SCOPE_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		c = scope[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-' || c == ':' || c == '/'))
			return 0;
	}
	return 1;
}
