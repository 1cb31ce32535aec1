build-asan/obj/shared/token.o: shared/token.c shared/token.h shared/err.h \
 shared/config.h shared/valid.h shared/arena.h shared/buf.h
shared/token.h:
shared/err.h:
shared/config.h:
shared/valid.h:
shared/arena.h:
shared/buf.h:
