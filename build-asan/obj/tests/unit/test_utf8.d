build-asan/obj/tests/unit/test_utf8.o: tests/unit/test_utf8.c \
 shared/utf8.c shared/utf8.h tests/unit/unit.h
shared/utf8.c:
shared/utf8.h:
tests/unit/unit.h:
