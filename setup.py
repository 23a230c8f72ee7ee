"""keras-vcd: VAEs refined by HMC and trained with the Variational Contrastive Divergence."""

from setuptools import find_packages, setup

setup(
    name="keras-vcd",
    version="0.1.0",
    description="Variational Contrastive Divergence (Ruiz & Titsias, 2019) as a Keras 3 model zoo",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["keras_vcd", "keras_vcd.*"]) + ["keras_vcd.presets"],
    # The zoo's entries (config, weights, metadata) live in zoo/ at the top of the
    # repository and install as the data package keras_vcd.presets.
    package_dir={"keras_vcd.presets": "zoo"},
    package_data={"keras_vcd.presets": ["*.json", "*/*.json", "*/*.h5", "*/*.md"]},
    # Versions seen working together (TFP 0.25 needs tf-keras importable).
    install_requires=[
        "tensorflow==2.18.1",
        "tf-keras==2.18.0",
        "keras==3.8.0",
        "tensorflow-probability==0.25.0",
        "keras-tuner==1.4.7",
        "h5py>=3.11,<3.17",
        "numpy>=1.26,<2.1",
        "matplotlib>=3.8,<3.12",
        "tqdm>=4.66",
    ],
    extras_require={
        "test": ["pytest>=8,<10"],
        # keras-tuner's BayesianOptimization needs these.
        "bayesian": ["scikit-learn>=1.3", "scipy>=1.11"],
    },
    entry_points={"console_scripts": ["keras-vcd=keras_vcd.cli:main"]},
)
