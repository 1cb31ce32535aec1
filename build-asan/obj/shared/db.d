build-asan/obj/shared/db.o: shared/db.c shared/db.h \
 /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h shared/err.h shared/config.h \
 shared/http.h shared/arena.h shared/valid.h shared/buf.h shared/log.h
shared/db.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
shared/err.h:
shared/config.h:
shared/http.h:
shared/arena.h:
shared/valid.h:
shared/buf.h:
shared/log.h:
