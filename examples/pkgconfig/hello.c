/* Link libbtcore through pkg-config:
 *   cc -o hello hello.c $(pkg-config --cflags --libs libbtcore)   */
#include <stdio.h>

#include <bt/error.h>
#include <bt/id.h>

int
main(void)
{
	struct bt_id id;
	char hex[BT_ID_HEX_LEN + 1];

	if (btcore_id_hash(&id, "hello", 5) != BT_OK)
		return 1;
	printf("btcore %s: sha256(hello) = %s\n", btcore_version(),
	    btcore_id_to_hex(&id, hex));
	return 0;
}
