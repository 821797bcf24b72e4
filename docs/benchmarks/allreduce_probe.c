/* Open MPI's own MPI_Allreduce on a 25 MiB float buffer (DDP's bucket size), in place, from C: the reference for
 * DeepSharp.Distributed's all-reduce bandwidth (docs/distributed.md).
 *   mpicc -O2 -o /tmp/allreduce_probe docs/benchmarks/allreduce_probe.c
 *   mpirun --allow-run-as-root --oversubscribe -np 2 /tmp/allreduce_probe [MiB] [iterations]
 * Prints the median time per call and the bus bandwidth 2(N-1)/N × bytes / time (what a ring moves per rank). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    double mib = argc > 1 ? atof(argv[1]) : 25.0;
    int iterations = argc > 2 ? atoi(argv[2]) : 20;
    int count = (int)(mib * 1024 * 1024 / sizeof(float));
    float *data = malloc((size_t)count * sizeof(float));
    for (int i = 0; i < count; i++) data[i] = (float)(rank + i % 7);
    double *times = malloc(iterations * sizeof(double));
    MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);   /* warm-up */
    for (int it = 0; it < iterations; it++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, data, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        times[it] = MPI_Wtime() - t0;
    }
    qsort(times, iterations, sizeof(double), compare);
    double median = times[iterations / 2], bytes = (double)count * sizeof(float);
    if (rank == 0)
        printf("C MPI_Allreduce %.1f MiB x %d ranks: median %.2f ms, bus bandwidth %.2f GB/s\n", mib, size, median * 1e3,
            2.0 * (size - 1) / size * bytes / median / 1e9);
    free(times);
    free(data);
    MPI_Finalize();
    return 0;
}
