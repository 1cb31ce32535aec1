build-asan/obj/tests/unit/test_valid.o: tests/unit/test_valid.c \
 shared/valid.c shared/valid.h shared/arena.h shared/buf.h shared/err.h \
 shared/utf8.h tests/unit/unit.h
shared/valid.c:
shared/valid.h:
shared/arena.h:
shared/buf.h:
shared/err.h:
shared/utf8.h:
tests/unit/unit.h:
