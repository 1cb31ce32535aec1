build-asan/obj/shared/server.o: shared/server.c shared/server.h \
 shared/http.h shared/arena.h shared/valid.h shared/buf.h shared/err.h \
 shared/config.h shared/db.h /usr/include/postgresql/libpq-fe.h \
 /usr/include/postgresql/postgres_ext.h \
 /usr/include/postgresql/pg_config_ext.h shared/log.h shared/token.h
shared/server.h:
shared/http.h:
shared/arena.h:
shared/valid.h:
shared/buf.h:
shared/err.h:
shared/config.h:
shared/db.h:
/usr/include/postgresql/libpq-fe.h:
/usr/include/postgresql/postgres_ext.h:
/usr/include/postgresql/pg_config_ext.h:
shared/log.h:
shared/token.h:
