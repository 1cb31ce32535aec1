build-asan/obj/shared/http.o: shared/http.c shared/http.h shared/arena.h \
 shared/valid.h shared/buf.h shared/err.h shared/log.h shared/token.h
shared/http.h:
shared/arena.h:
shared/valid.h:
shared/buf.h:
shared/err.h:
shared/log.h:
shared/token.h:
