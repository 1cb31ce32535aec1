build-asan/obj/shared/buf.o: shared/buf.c shared/buf.h shared/err.h
shared/buf.h:
shared/err.h:
