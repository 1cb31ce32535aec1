build-asan/obj/shared/config.o: shared/config.c shared/config.h \
 shared/err.h shared/log.h
shared/config.h:
shared/err.h:
shared/log.h:
