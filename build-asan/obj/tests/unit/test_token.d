build-asan/obj/tests/unit/test_token.o: tests/unit/test_token.c \
 shared/token.c shared/token.h shared/err.h shared/config.h \
 shared/valid.h shared/arena.h shared/buf.h tests/unit/unit.h
shared/token.c:
shared/token.h:
shared/err.h:
shared/config.h:
shared/valid.h:
shared/arena.h:
shared/buf.h:
tests/unit/unit.h:
