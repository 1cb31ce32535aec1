build-asan/obj/shared/arena.o: shared/arena.c shared/arena.h
shared/arena.h:
