build-asan/obj/tests/unit/test_buf.o: tests/unit/test_buf.c \
 shared/arena.c shared/arena.h shared/buf.c shared/buf.h shared/err.h \
 tests/unit/unit.h
shared/arena.c:
shared/arena.h:
shared/buf.c:
shared/buf.h:
shared/err.h:
tests/unit/unit.h:
