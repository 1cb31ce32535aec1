build-asan/obj/shared/valid.o: shared/valid.c shared/valid.h \
 shared/arena.h shared/buf.h shared/err.h shared/utf8.h
shared/valid.h:
shared/arena.h:
shared/buf.h:
shared/err.h:
shared/utf8.h:
