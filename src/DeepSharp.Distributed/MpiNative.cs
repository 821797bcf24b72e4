using System.Runtime.InteropServices;

namespace DeepSharp.Distributed;

/// <summary>
/// A thin P/Invoke binding over Open MPI's C API (libmpi.so.40). Open MPI's predefined handles (MPI_COMM_WORLD,
/// MPI_FLOAT, MPI_SUM…) are the addresses of exported structs (<c>ompi_mpi_comm_world</c>…), resolved once with
/// <see cref="NativeLibrary.GetExport"/>. Every handle type (communicator, datatype, op, request, error handler) is a
/// pointer, so all are <c>nint</c> here.
/// </summary>
internal static unsafe partial class MpiNative
{
    private const string Lib = "deepsharp-mpi";   // resolved by Resolve(): libmpi.so.40, then libmpi.so
    public const int Success = 0;
    public const int ThreadMultiple = 3;
    public const int MaxErrorString = 256;
    public static readonly nint InPlace = 1;

    private static nint s_library;
    public static nint CommWorld, Float, Double, Int64, Byte, OpSum, OpMax, OpMin, OpProd, ErrorsReturn, RequestNull;

    /// <summary>Loads libmpi (globally, so Open MPI's plugins see its symbols) and resolves the predefined handles.</summary>
    /// <exception cref="DllNotFoundException">Open MPI is not installed.</exception>
    public static void Load()
    {
        if (s_library != 0) return;
        nint lib = 0;
        string? why = null;
        foreach (var name in (string[])["libmpi.so.40", "libmpi.so"])
        {
            // RTLD_NOW | RTLD_GLOBAL: Open MPI's MCA components are loaded later with dlopen and resolve libmpi's symbols.
            lib = DlOpen(name, 0x2 | 0x100);
            if (lib != 0) break;
            why ??= Marshal.PtrToStringUTF8(DlError());
        }
        if (lib == 0)
            throw new DllNotFoundException($"DeepSharp.Distributed: Open MPI's libmpi.so.40 was not found ({why}). Install it (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) and start the program with mpirun.");
        NativeLibrary.SetDllImportResolver(typeof(MpiNative).Assembly, (name, _, _) => name == Lib ? lib : 0);
        CommWorld = Export(lib, "ompi_mpi_comm_world");
        Float = Export(lib, "ompi_mpi_float");
        Double = Export(lib, "ompi_mpi_double");
        Int64 = Export(lib, "ompi_mpi_int64_t");
        Byte = Export(lib, "ompi_mpi_byte");
        OpSum = Export(lib, "ompi_mpi_op_sum");
        OpMax = Export(lib, "ompi_mpi_op_max");
        OpMin = Export(lib, "ompi_mpi_op_min");
        OpProd = Export(lib, "ompi_mpi_op_prod");
        ErrorsReturn = Export(lib, "ompi_mpi_errors_return");
        RequestNull = Export(lib, "ompi_request_null");
        s_library = lib;
    }

    private static nint Export(nint lib, string symbol) =>
        NativeLibrary.TryGetExport(lib, symbol, out nint address) ? address
            : throw new EntryPointNotFoundException($"DeepSharp.Distributed: libmpi has no symbol '{symbol}'; this binding needs Open MPI 4 or 5 (another MPI, such as MPICH, has a different ABI).");

    [LibraryImport("libc.so.6", EntryPoint = "dlopen", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint DlOpen(string file, int mode);

    [LibraryImport("libc.so.6", EntryPoint = "dlerror")]
    private static partial nint DlError();

    /// <summary>Throws <see cref="MpiException"/> with MPI's own message when <paramref name="code"/> is not MPI_SUCCESS.</summary>
    public static void Check(int code, string call)
    {
        if (code == Success) return;
        throw new MpiException(call, code, ErrorString(code));
    }

    public static string ErrorString(int code)
    {
        byte* buffer = stackalloc byte[MaxErrorString + 1];
        int length = 0;
        if (MPI_Error_string(code, buffer, &length) != Success) return $"MPI error {code}";
        return Marshal.PtrToStringUTF8((nint)buffer, length);
    }

    [LibraryImport(Lib)] public static partial int MPI_Init_thread(int* argc, byte*** argv, int required, int* provided);
    [LibraryImport(Lib)] public static partial int MPI_Initialized(int* flag);
    [LibraryImport(Lib)] public static partial int MPI_Finalized(int* flag);
    [LibraryImport(Lib)] public static partial int MPI_Finalize();
    [LibraryImport(Lib)] public static partial int MPI_Abort(nint comm, int errorCode);
    [LibraryImport(Lib)] public static partial int MPI_Error_string(int code, byte* text, int* length);
    [LibraryImport(Lib)] public static partial int MPI_Comm_rank(nint comm, int* rank);
    [LibraryImport(Lib)] public static partial int MPI_Comm_size(nint comm, int* size);
    [LibraryImport(Lib)] public static partial int MPI_Comm_dup(nint comm, nint* newComm);
    [LibraryImport(Lib)] public static partial int MPI_Comm_split(nint comm, int color, int key, nint* newComm);
    [LibraryImport(Lib)] public static partial int MPI_Comm_free(nint* comm);
    [LibraryImport(Lib)] public static partial int MPI_Comm_set_errhandler(nint comm, nint errhandler);
    [LibraryImport(Lib)] public static partial int MPI_Barrier(nint comm);
    [LibraryImport(Lib)] public static partial int MPI_Bcast(void* buffer, int count, nint datatype, int root, nint comm);
    [LibraryImport(Lib)] public static partial int MPI_Allreduce(void* sendBuf, void* recvBuf, int count, nint datatype, nint op, nint comm);
    [LibraryImport(Lib)] public static partial int MPI_Iallreduce(void* sendBuf, void* recvBuf, int count, nint datatype, nint op, nint comm, nint* request);
    [LibraryImport(Lib)] public static partial int MPI_Alltoall(void* sendBuf, int sendCount, nint sendType, void* recvBuf, int recvCount, nint recvType, nint comm);
    [LibraryImport(Lib)] public static partial int MPI_Allgather(void* sendBuf, int sendCount, nint sendType, void* recvBuf, int recvCount, nint recvType, nint comm);
    [LibraryImport(Lib)] public static partial int MPI_Ialltoall(void* sendBuf, int sendCount, nint sendType, void* recvBuf, int recvCount, nint recvType, nint comm, nint* request);
    [LibraryImport(Lib)] public static partial int MPI_Iallgather(void* sendBuf, int sendCount, nint sendType, void* recvBuf, int recvCount, nint recvType, nint comm, nint* request);
    [LibraryImport(Lib)] public static partial int MPI_Wait(nint* request, void* status);
    [LibraryImport(Lib)] public static partial int MPI_Test(nint* request, int* flag, void* status);
}

/// <summary>An MPI call failed: the call and MPI's own error text.</summary>
public sealed class MpiException : Exception
{
    /// <summary>Creates the exception for <paramref name="call"/> failing with <paramref name="errorCode"/>.</summary>
    public MpiException(string call, int errorCode, string message)
        : base($"{call} failed (MPI error {errorCode}): {message}") => ErrorCode = errorCode;

    /// <summary>The MPI error code.</summary>
    public int ErrorCode { get; }
}
