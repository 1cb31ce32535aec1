build-asan/obj/shared/multipart.o: shared/multipart.c shared/multipart.h \
 shared/err.h
shared/multipart.h:
shared/err.h:
